from okta_hris.cli import main

main()
