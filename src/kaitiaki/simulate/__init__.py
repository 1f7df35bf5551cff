"""Generated benign media and simulated operations, for the demo and the tests.

Nothing here reads real material: images come from photos that packages ship in their wheels
(scikit-image's ``skimage/data``) or are drawn from a seeded generator.
"""

from kaitiaki.simulate.manifest import SampleFile, SampleManifest
from kaitiaki.simulate.sample import build_sample

__all__ = ["SampleFile", "SampleManifest", "build_sample"]
