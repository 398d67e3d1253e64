"""tinyasc: acoustic scene classification from audio to a Cortex-M microcontroller.

Stages (one subpackage each) hand typed artifacts to one another:
``data`` -> ``model``/``train`` -> ``compress`` -> ``export`` -> ``firmware_sim``.
The shared hand-off types (feature config, label set, checkpoint) live in
:mod:`tinyasc.contract`, which every stage may import without importing another stage.
"""

__version__ = "0.1.0"
