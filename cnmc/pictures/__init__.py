"""Pictures people would rather see than read, as (H, W, 3) uint8 arrays written to PNG and TensorBoard alike:
image grids and the confusion matrix (grids), the ROC curve (roc). Below the trainer and the evaluation."""
