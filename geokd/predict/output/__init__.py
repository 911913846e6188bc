"""What a prediction run writes: output paths, locks, working rasters, run state."""
