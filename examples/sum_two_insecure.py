import subprocess

line = input()
# eval is dangerous: Bandit B307 (MEDIUM)
a, b = eval(line.replace(' ', ','))
print(a + b)
