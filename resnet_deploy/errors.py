"""One exception hierarchy for errors caused by user input.

The CLI catches `ResnetDeployError` and prints its message as one line with exit code 1.
Anything else is a bug and is allowed to raise loudly.
"""


class ResnetDeployError(Exception):
    """A problem with the user's input: a message that says what is wrong and what to do."""


class UnknownModelError(ResnetDeployError):
    """An architecture name that is not in the registry."""


class WeightsError(ResnetDeployError):
    """A weights file that cannot be read or does not fit the model."""


class ImageDataError(ResnetDeployError):
    """An image folder or image that cannot be used."""


class ArtifactError(ResnetDeployError):
    """An ONNX file, engine or other artifact that is missing, malformed or mismatched."""


class OutputError(ResnetDeployError):
    """An output location that cannot be written, or a file name of the wrong kind."""
