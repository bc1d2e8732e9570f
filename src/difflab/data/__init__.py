"""Datasets: fetching and verifying MNIST and Fashion-MNIST, the IDX format, class names and labels."""
