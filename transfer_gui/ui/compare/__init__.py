"""Compare runs and compare the three training methods."""
