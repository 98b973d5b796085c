from resnet_deploy.cli.app import run

run()
