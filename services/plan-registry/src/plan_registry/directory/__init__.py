"""The directory: regions by GB/T 2260 code and the departments of each region."""
