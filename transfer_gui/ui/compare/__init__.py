"""Compare runs, and train a grid of backbones x training methods to compare."""
