"""Data: the manifest format (:mod:`.manifest`), robust image loading (:mod:`.images`), odd photos made
into views (:mod:`.views`), preprocessing and augmentation (:mod:`.transforms`), the DataLoader pipeline
(:mod:`.loader`), the frozen-trunk feature cache (:mod:`.features`), grouped splits (:mod:`.splits`),
offline reverse geocoding (:mod:`.revgeo`) and the bundled country polygons (:mod:`.countries`).
Shards (WebDataset tars) are their own package, :mod:`model.shards`."""
