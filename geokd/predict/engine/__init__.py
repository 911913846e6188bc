"""The patch grid of a scene and the classifier of its windows."""
