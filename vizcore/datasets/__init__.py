"""Datasets: folders and zips of images (sources), the index pass over them (recipe, index), and what an index
answers: nearest neighbours in feature space and max-activating patches per channel. ``demo`` makes the offline demo
set (crops and flips of installed photos, labelled by photo)."""
