"""The Predict step: classify new images with the trained model, save a CSV."""
