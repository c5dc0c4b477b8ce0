"""TFRecords -> batches -> augmented batches on the device (issue 3)."""
