"""Pure rules: who may do what (policy), what input is valid (validation), how documents render. No
I/O.
"""
