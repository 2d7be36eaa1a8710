#!/usr/bin/env python3
"""The example stack of examples/typescript, in Python: one VPC, the GitHub App secret, one control plane
with the workflow_job webhook, and two fleets (x86_64 with a warm pool; Graviton, persistent, from zero).

    pip install -r requirements.txt
    cdk synth --app "python3 app.py"
"""
import aws_cdk as cdk
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from cdk_github_runner_fleet import (
    GitHubConnection,
    GitHubCredentials,
    GitHubRunnerControlPlane,
    GitHubRunnerFleet,
    RunnerMode,
    RunnerWarmPoolOptions,
)


class ExampleRunnersStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        vpc = ec2.Vpc(self, "Vpc", max_azs=2, nat_gateways=1)
        # Put the App's credentials in after the first deployment:
        #   { "appId": "123456", "privateKey": "-----BEGIN RSA PRIVATE KEY-----...", "installationId": "7890" }
        secret = secretsmanager.Secret(
            self,
            "GitHubAppSecret",
            secret_name="github-runner-fleet/example/github-app",
            description="GitHub App credentials for the runner fleets (JSON: appId, privateKey, installationId)",
        )
        control_plane = GitHubRunnerControlPlane(
            self,
            "Runners",
            github=GitHubConnection.organization(
                "acme", credentials=GitHubCredentials.from_app_secret(secret)
            ),
            webhook={},
        )
        cdk.CfnOutput(self, "WebhookUrl", value=control_plane.webhook_url)

        GitHubRunnerFleet(
            self,
            "Linux",
            vpc=vpc,
            control_plane=control_plane,
            fleet_name="linux-x64",
            labels=["linux", "x64", "docker"],
            idle_runners=2,
            max_capacity=20,
            warm_pool=RunnerWarmPoolOptions(min_size=2),
        )
        GitHubRunnerFleet(
            self,
            "Arm",
            vpc=vpc,
            control_plane=control_plane,
            fleet_name="linux-arm64",
            labels=["linux", "arm64"],
            instance_type=ec2.InstanceType.of(ec2.InstanceClass.M7G, ec2.InstanceSize.LARGE),
            runner_mode=RunnerMode.PERSISTENT,
            # Scales from zero: a queued job brings a runner up.
            min_capacity=0,
            idle_runners=0,
            max_capacity=5,
            max_instance_lifetime=cdk.Duration.days(3),
            warm_pool=RunnerWarmPoolOptions(pool_state=autoscaling.PoolState.STOPPED),
        )


app = cdk.App()
ExampleRunnersStack(
    app,
    "GitHubRunnerFleetExample",
    env=cdk.Environment(account="123456789012", region="us-east-1"),
)
app.synth()
