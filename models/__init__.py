"""Keras 3 models: attention layers, recommender, text classifiers, training, evaluation, export.

Model code uses `keras` and `keras.ops` only, so it runs on the TensorFlow, JAX and PyTorch
backends; TensorFlow is needed only for SavedModel export.
"""
