"""``geokd evaluate``: judge a class map against per-pixel reference data.

The stage's pure functions bring a reference raster (a label raster, or a flood mask
turned into the model's classes by the dataset's rule) onto the map's grid
(:mod:`.reference`), count a confusion matrix and derive scores from it
(:mod:`.metrics`), measure cell areas (:mod:`.areas`) and report them (:mod:`.report`).
Nothing is imported here, so that ``geokd evaluate --help`` stays fast.
"""
