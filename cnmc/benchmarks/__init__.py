"""What the benchmark tools measure, as functions that return numbers (the tools add flags and print)."""
