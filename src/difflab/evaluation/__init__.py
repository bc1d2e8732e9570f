"""Measuring samples: the judge's accuracy and Frechet distance, the steps comparisons."""
