"""A small module with four bugs, one per function."""


def average(values):
    return sum(values) / len(values)


def first(values):
    return values[0]


def parse_int(text):
    return int(text)


def lookup(table, key):
    return table[key]


def total(values):
    return sum(values)
