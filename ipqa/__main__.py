from ipqa.cli import main

main()
