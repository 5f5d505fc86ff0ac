# Starts the reader application, nothing else (see lib/reader/app.py).
from reader import app

app.main()
