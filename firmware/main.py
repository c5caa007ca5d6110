# Starts the hearth app. Ctrl-C (or any escape) puts every output in its safe state
# first, then leaves for the REPL.
import hearth.app

hearth.app.main()
