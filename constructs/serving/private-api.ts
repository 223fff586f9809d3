import { Duration, aws_apigateway as apigw, aws_ec2 as ec2, aws_iam as iam, aws_kms as kms, aws_lambda as lambda } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { FEEDBACK_ROUTE, SERVE_ROUTE } from './runtime/contract';
import { acknowledge } from '../../lib/compliance/acknowledge';
import { skipCheckov } from '../../lib/compliance/checkov';
import { createLogGroup } from '../../lib/defaults';
import { IWorkloadNetwork } from '../../lib/network';

/** @internal what the serving path hands its entry. */
export interface PrivateApiProps {
  readonly name: string;
  readonly handler: lambda.IFunction;
  readonly network: IWorkloadNetwork;
  readonly encryptionKey: kms.IKey;
  readonly throttleRateLimit: number;
  readonly throttleBurstLimit: number;
}

/** The stage every serving API deploys. */
export const SERVING_API_STAGE = 'v1';

/**
 * The entry a company's backend calls: an API Gateway REST API of endpoint type PRIVATE, reached
 * only through the VPC's `execute-api` interface endpoint (its resource policy denies any other
 * way in), with IAM (SigV4) authorization on every method, throttling from the figures, and JSON
 * access logs in a log group under the lake's key.
 *
 * Why not a Lambda function URL: a function URL is a public endpoint (IAM-authorized, but
 * reachable from the internet), has no throttling of its own and no access log; a private REST
 * API keeps the request path inside the VPC.
 */
export class PrivateApi extends Construct {
  public readonly api: apigw.RestApi;
  /** `https://<api id>.execute-api.<region>.amazonaws.com/v1/` (resolves inside the VPC only). */
  public readonly url: string;
  public readonly endpoint: ec2.IInterfaceVpcEndpoint;
  private readonly methods: apigw.Method[] = [];

  constructor(scope: Construct, id: string, props: PrivateApiProps) {
    super(scope, id);
    this.endpoint = props.network.interfaceEndpointFor('ExecuteApi', ec2.InterfaceVpcEndpointAwsService.APIGATEWAY);
    const accessLogs = createLogGroup(this, 'AccessLogs', { encryptionKey: props.encryptionKey });
    const policy = new iam.PolicyDocument({
      statements: [
        new iam.PolicyStatement({ effect: iam.Effect.ALLOW, principals: [new iam.AnyPrincipal()], actions: ['execute-api:Invoke'], resources: ['execute-api:/*'] }),
        new iam.PolicyStatement({
          effect: iam.Effect.DENY, principals: [new iam.AnyPrincipal()], actions: ['execute-api:Invoke'], resources: ['execute-api:/*'],
          conditions: { StringNotEquals: { 'aws:SourceVpce': this.endpoint.vpcEndpointId } },
        }),
      ],
    });
    this.api = new apigw.RestApi(this, 'Resource', {
      restApiName: `${props.name}-serving`,
      description: `Request path of ${props.name}: POST ${SERVE_ROUTE}, POST ${FEEDBACK_ROUTE} (IAM auth, VPC only)`,
      endpointConfiguration: { types: [apigw.EndpointType.PRIVATE], vpcEndpoints: [this.endpoint] },
      policy,
      cloudWatchRole: false,
      disableExecuteApiEndpoint: false,
      deployOptions: {
        stageName: SERVING_API_STAGE,
        tracingEnabled: true,
        throttlingRateLimit: props.throttleRateLimit,
        throttlingBurstLimit: props.throttleBurstLimit,
        accessLogDestination: new apigw.LogGroupLogDestination(accessLogs),
        // No caller identity beyond the calling role, no body: access logs hold no personal data.
        accessLogFormat: apigw.AccessLogFormat.custom(JSON.stringify({
          requestId: apigw.AccessLogField.contextRequestId(),
          requestTime: apigw.AccessLogField.contextRequestTime(),
          httpMethod: apigw.AccessLogField.contextHttpMethod(),
          resourcePath: apigw.AccessLogField.contextResourcePath(),
          status: apigw.AccessLogField.contextStatus(),
          responseLength: apigw.AccessLogField.contextResponseLength(),
          integrationLatency: apigw.AccessLogField.contextIntegrationLatency(),
          responseLatency: apigw.AccessLogField.contextResponseLatency(),
          caller: apigw.AccessLogField.contextIdentityUserArn(),
          vpce: '$context.identity.vpceId',
        })),
      },
    });
    const validator = this.api.addRequestValidator('Body', { validateRequestBody: true, validateRequestParameters: true });
    const model = this.api.addModel('JsonObject', {
      contentType: 'application/json',
      schema: { schema: apigw.JsonSchemaVersion.DRAFT4, type: apigw.JsonSchemaType.OBJECT },
    });
    const integration = new apigw.LambdaIntegration(props.handler, { proxy: true, timeout: Duration.seconds(29) });
    for (const route of [SERVE_ROUTE, FEEDBACK_ROUTE]) {
      const resource = this.api.root.addResource(route.replace(/^\//, ''));
      const method = resource.addMethod('POST', integration, {
        authorizationType: apigw.AuthorizationType.IAM,
        requestValidator: validator,
        requestModels: { 'application/json': model },
      });
      acknowledge(method, 'AwsSolutions-COG4',
        'The caller is the company backend, a machine identity that signs requests with SigV4 under IAM authorization; a Cognito user pool authenticates people, who never call this API directly.');
      this.methods.push(method);
    }
    this.url = this.api.url;
    acknowledge(this.api.deploymentStage, 'AwsSolutions-APIG6',
      'Execution logs would go to an API Gateway managed log group without the customer key and without a retention limit; the access log (under the lake key) and the function\'s own log cover each request.');
    acknowledge(this.api.deploymentStage, 'AwsSolutions-APIG3',
      'A private API is reachable only through the VPC endpoint, from the company backend, with IAM authorization; WAF protects internet-facing entries.');
    skipCheckov(this.api.deploymentStage, 'CKV_AWS_120', 'Both routes are POST, and API Gateway caches GET methods only by default and keys '
      + 'a cache on request parameters, never the body; the answers are per user, so a cache cluster (billed by the hour) would hold personal results and serve no hits.');
  }

  /** Lets `grantee` call the request path (`execute-api:Invoke` on its methods). */
  public grantInvoke(grantee: iam.IGrantable): iam.Grant {
    const [first, ...rest] = this.methods.map((method) => method.grantExecute(grantee));
    return rest.reduce((all, grant) => all.combine(grant), first);
  }
}
