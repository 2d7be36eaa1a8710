export * from './fleet/fleet';
export * from './fleet/props';
export * from './github/connection';
export * from './github/credentials';
export * from './instances/operating-system';
export * from './lifecycle/control-plane';
export { GitHubRunnerControlPlaneAttributes, IGitHubRunnerControlPlane } from './lifecycle/control-plane-reference';
export { RunnerWebhookOptions, WebhookEndpointType } from './lifecycle/webhook';
