from authgate.cli.main import main

main()
