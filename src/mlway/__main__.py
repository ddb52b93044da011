from mlway.cli.app import main

main()
