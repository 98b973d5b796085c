"""The model zoo of both papers: one registry, model cards, weight loading, FLOPs counting."""

from resnet_deploy.models.registry import ModelCard, create_model, get_card, list_models

__all__ = ["ModelCard", "create_model", "get_card", "list_models"]
