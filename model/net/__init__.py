"""The network and its answers: backbones (:mod:`.backbones`, one file per family, ``create_model``),
geographic cells (:mod:`.cells`), heads (:mod:`.heads`), the network (:mod:`.network`) and the one that a
training run builds (:mod:`.build`), checkpoints (:mod:`.checkpoint`), decoding outputs into places
(:mod:`.inference`), retrieval among training places (:mod:`.retrieval`)."""
