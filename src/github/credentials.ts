import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';

/** How the library authenticates to GitHub. */
export enum GitHubAuthType {
  /** A GitHub App installation (recommended: higher rate limits, short-lived tokens). */
  APP = 'app',
  /** A personal access token (classic or fine-grained). */
  PERSONAL_ACCESS_TOKEN = 'token',
}

/**
 * GitHub credentials held in an AWS Secrets Manager secret that you create and rotate.
 *
 * The library never puts credentials in a template, an environment variable or a log line: the
 * functions read the secret at run time.
 */
export class GitHubCredentials {
  /**
   * A GitHub App. The secret's value is JSON:
   * `{ "appId": "123456", "privateKey": "-----BEGIN RSA PRIVATE KEY-----\n...", "installationId": "7890" }`.
   *
   * `installationId` is optional: without it, the functions look the installation up for the
   * organization or repository (one extra request per cold start).
   *
   * The App needs the organization permission "Self-hosted runners: read and write" (organization
   * scope) or the repository permission "Administration: read and write" (repository scope), and,
   * with a webhook, the repository permission "Actions: read" (the minute tick reads the jobs whose
   * deliveries may have been lost; without it those jobs keep counting as waiting and `JobLookupDenied`
   * counts them).
   *
   * @see https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/authenticating-as-a-github-app-installation
   */
  public static fromAppSecret(secret: secretsmanager.ISecret): GitHubCredentials {
    return new GitHubCredentials(secret, GitHubAuthType.APP);
  }

  /**
   * A personal access token. The secret's value is the token itself, or JSON `{ "token": "ghp_..." }`.
   *
   * A classic token needs `admin:org` (organization scope) or `repo` (repository scope).
   */
  public static fromPersonalAccessTokenSecret(secret: secretsmanager.ISecret): GitHubCredentials {
    return new GitHubCredentials(secret, GitHubAuthType.PERSONAL_ACCESS_TOKEN);
  }

  private constructor(
    /** The secret holding the credentials. */
    public readonly secret: secretsmanager.ISecret,
    /** How the secret's value is read. */
    public readonly authType: GitHubAuthType,
  ) {}
}
