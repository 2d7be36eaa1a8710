import { environmentFromContext } from '../../../lambda/adapters/runtime';

describe('environmentFromContext', () => {
  test.each([
    ['arn:aws:lambda:eu-west-1:123456789012:function:registration', { partition: 'aws', region: 'eu-west-1', accountId: '123456789012' }],
    ['arn:aws-cn:lambda:cn-north-1:210987654321:function:f:live', { partition: 'aws-cn', region: 'cn-north-1', accountId: '210987654321' }],
    ['arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:f:7', { partition: 'aws-us-gov', region: 'us-gov-west-1', accountId: '123456789012' }],
  ])('%s', (invokedFunctionArn, expected) => {
    expect(environmentFromContext({ invokedFunctionArn })).toEqual(expected);
  });

  test.each(['', 'nonsense', 'arn:aws:lambda:eu-west-1:1234:function:f', 'arn:aws:sqs:eu-west-1:123456789012:queue'])('refuses %p', (invokedFunctionArn) => {
    expect(() => environmentFromContext({ invokedFunctionArn })).toThrow(/cannot read partition, region and account/);
  });
});
