"""The Results step: scores with their intervals, confusion matrix, mistakes, cross-validation."""
