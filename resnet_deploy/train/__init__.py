"""Training reference models with the papers' CIFAR recipe, resumable and deterministic on CPU."""
