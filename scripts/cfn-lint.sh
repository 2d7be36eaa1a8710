#!/usr/bin/env bash
# Checks CloudFormation templates with cfn-lint: every error fails, and so does every warning except the
# ones below, which come from how the AWS CDK and its test tools synthesize templates, not from this library:
#
#   W3005  "dependency already enforced by a 'GetAtt'": aws-cdk-lib makes each Lambda function (and the
#          VPC's default security group custom resource) depend on its service role as well as on the
#          role's policy; the role dependency repeats the GetAtt of the role's ARN. Redundant, harmless.
#   W3010  "Avoid hardcoding availability zones 'dummy1a'": an environment-agnostic stack (no account
#          and region) is synthesized with the CDK's placeholder zones; a deployment resolves real ones.
#   W3037  "'invoke' is not one of [...]": @aws-cdk/integ-tests-alpha's assertion provider grants the
#          action `lambda:Invoke`, which does not exist (a no-op), next to the real
#          `lambda:InvokeFunction`. Ignored only with --integ (the integration snapshots): these test
#          stacks never ship to users.
#
# Usage: scripts/cfn-lint.sh [--integ] TEMPLATE... (prints the findings as file:line:column:rule:message)
set -euo pipefail
ignore=(W3005 W3010)
if [ "${1:-}" = --integ ]; then
  ignore+=(W3037)
  shift
fi
if [ $# -eq 0 ]; then
  echo "cfn-lint.sh: no template given" >&2
  exit 2
fi
if ! command -v cfn-lint >/dev/null 2>&1; then
  echo "cfn-lint.sh: cfn-lint is not installed (pip install cfn-lint; it cannot be installed from this machine's mirrors)" >&2
  exit 1
fi
rc=0
cfn-lint --format parseable --non-zero-exit-code warning --ignore-checks "${ignore[@]}" -- "$@" || rc=$?
if [ "$rc" -ne 0 ]; then
  echo "cfn-lint.sh: cfn-lint found errors or warnings (exit $rc) in: $*" >&2
  exit 1
fi
echo "cfn-lint.sh: $# template(s) pass (cfn-lint $(cfn-lint --version | awk '{print $2}'))"
