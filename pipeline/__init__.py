"""TFRecords -> batches -> augmented batches on the device."""
