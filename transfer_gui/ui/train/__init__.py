"""The Train step: the background training job, live curves, Stop."""
