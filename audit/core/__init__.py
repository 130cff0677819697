"""What every part of the app may use and that uses nothing of the app: the one clock, the
domain's errors and the folding of text. Imports nothing from the other packages."""
