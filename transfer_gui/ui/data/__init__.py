"""The Data step: choose a folder, see its classes, thumbnails and skipped files."""
