import { NagMessageLevel } from 'cdk-nag';
import { GdprRule, findingsOrCompliant } from '../rule';
import { asList, isTrue, props } from '../template';

export const StepFunctionsLogging: GdprRule = {
  name: 'StepFunctionsLogging',
  level: NagMessageLevel.ERROR,
  resourceTypes: ['AWS::StepFunctions::StateMachine'],
  info: 'The state machine does not log to a log group, or its logs include execution data. Fix: `logs: { destination, level: LogLevel.ALL, includeExecutionData: false }`.',
  explanation: 'Executions must leave an audit trail (GDPR art. 5(2)), but their inputs and outputs are personal data that must not be copied into logs.',
  check: (node) => {
    const logging = props(node).LoggingConfiguration;
    const findings: string[] = [];
    if (!logging || logging.Level === undefined || logging.Level === 'OFF' || asList(logging.Destinations).length === 0) {
      findings.push('logging-off');
    }
    if (isTrue(logging?.IncludeExecutionData)) {
      findings.push('execution-data');
    }
    return findingsOrCompliant(findings);
  },
};
