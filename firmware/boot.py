# Runs first at every boot. Kept minimal on purpose: a mistake here could stop the REPL
# from being reachable. The application starts from main.py.
import gc

gc.collect()
