import { Token } from 'aws-cdk-lib';
import { GitHubAuthType, GitHubCredentials } from './credentials';
import { parseApiUrl, validateEnterpriseSlug, validateOwner, validateRepositoryName } from './names';

/** Where runners are registered. */
export enum GitHubScope {
  /** Runners available to an organization's repositories (through its runner groups). */
  ORGANIZATION = 'organization',
  /** Runners available to one repository. */
  REPOSITORY = 'repository',
  /** Runners available to the organizations of an enterprise (through its runner groups). */
  ENTERPRISE = 'enterprise',
}

/** Options shared by every kind of GitHub connection. */
export interface GitHubConnectionOptions {
  /** The credentials the functions use to call GitHub's REST API. */
  readonly credentials: GitHubCredentials;

  /**
   * The REST API base URL.
   *
   * GitHub Enterprise Cloud with data residency: `https://api.<subdomain>.ghe.com`. GitHub Enterprise
   * Server: `https://<host>/api/v3`. The runners' registration URL is derived from it.
   *
   * @default 'https://api.github.com'
   */
  readonly apiUrl?: string;
}

/**
 * A GitHub scope (organization or repository) together with the credentials to manage its runners.
 *
 * @example
 * declare const secret: secretsmanager.ISecret;
 * const github = GitHubConnection.organization('acme', {
 *   credentials: GitHubCredentials.fromAppSecret(secret),
 * });
 */
export class GitHubConnection {
  /**
   * Runners registered to an organization.
   *
   * @param organization the organization's login, e.g. `acme`
   */
  public static organization(organization: string, options: GitHubConnectionOptions): GitHubConnection {
    if (!Token.isUnresolved(organization)) {
      validateOwner('GitHubConnection.organization(organization)', organization);
    }
    return new GitHubConnection(GitHubScope.ORGANIZATION, organization, undefined, options);
  }

  /**
   * Runners registered to an enterprise, shared with its organizations through runner groups.
   *
   * GitHub Apps cannot manage enterprise runners: the credentials must be a classic personal access
   * token with the `manage_runners:enterprise` scope.
   *
   * @param enterprise the enterprise's slug, as in `https://github.com/enterprises/<slug>`
   */
  public static enterprise(enterprise: string, options: GitHubConnectionOptions): GitHubConnection {
    if (!Token.isUnresolved(enterprise)) {
      validateEnterpriseSlug('GitHubConnection.enterprise(enterprise)', enterprise);
    }
    if (options?.credentials?.authType === GitHubAuthType.APP) {
      throw new Error('GitHubConnection.enterprise: GitHub Apps cannot manage enterprise runners (GitHub offers those endpoints to tokens only): '
        + 'use GitHubCredentials.fromPersonalAccessTokenSecret(secret) with a classic token that has the manage_runners:enterprise scope');
    }
    return new GitHubConnection(GitHubScope.ENTERPRISE, enterprise, undefined, options);
  }

  /**
   * Runners registered to one repository.
   *
   * @param owner the repository's owner (organization or user), e.g. `acme`
   * @param repository the repository's name, e.g. `infrastructure`
   */
  public static repository(owner: string, repository: string, options: GitHubConnectionOptions): GitHubConnection {
    if (!Token.isUnresolved(owner)) {
      validateOwner('GitHubConnection.repository(owner)', owner);
    }
    if (!Token.isUnresolved(repository)) {
      validateRepositoryName('GitHubConnection.repository(repository)', repository);
    }
    return new GitHubConnection(GitHubScope.REPOSITORY, owner, repository, options);
  }

  /** Organization or repository. */
  public readonly scope: GitHubScope;
  /** The organization, the repository's owner, or the enterprise's slug. */
  public readonly owner: string;
  /** The repository's name (repository scope only). */
  public readonly repositoryName?: string;
  /** The REST API base URL, without a trailing slash. */
  public readonly apiUrl: string;
  /** The web URL of the GitHub host, without a trailing slash. */
  public readonly webUrl: string;
  /** The URL runners register against (`config.sh --url`): the organization's, repository's or enterprise's page. */
  public readonly registrationUrl: string;
  /** The credentials. */
  public readonly credentials: GitHubCredentials;

  private constructor(scope: GitHubScope, owner: string, repository: string | undefined, options: GitHubConnectionOptions) {
    if (!options || !options.credentials) {
      throw new Error('GitHubConnection options.credentials is missing: pass GitHubCredentials.fromAppSecret(secret) or GitHubCredentials.fromPersonalAccessTokenSecret(secret)');
    }
    const host = parseApiUrl('GitHubConnection options.apiUrl', options.apiUrl ?? 'https://api.github.com');
    this.scope = scope;
    this.owner = owner;
    this.repositoryName = repository;
    this.apiUrl = host.apiUrl;
    this.webUrl = host.webUrl;
    this.registrationUrl = scope === GitHubScope.ENTERPRISE
      ? `${host.webUrl}/enterprises/${owner}`
      : repository ? `${host.webUrl}/${owner}/${repository}` : `${host.webUrl}/${owner}`;
    this.credentials = options.credentials;
  }
}
