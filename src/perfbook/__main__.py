from perfbook.cli import main

main()
