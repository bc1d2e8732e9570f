"""python -m difflab.explore: serve the explorer on 127.0.0.1 and print its address (make explore)."""

from difflab.explore.app import main

if __name__ == "__main__":
    main()
