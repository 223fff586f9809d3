import { Token, aws_ec2 as ec2, aws_logs as logs } from 'aws-cdk-lib';
import { gatewayShortName, repeated } from './endpoints';
import type { NetworkProps } from './network';
import { PropRule, ruleProblems } from '../../lib/validation';

/** Default CIDR block of the VPC the construct creates. */
export const DEFAULT_CIDR = '10.0.0.0/16';
/** Default number of Availability Zones: two, the least for multi-AZ caches and endpoints. */
export const DEFAULT_MAX_AZS = 2;
/** Default prefix length of each isolated subnet (/22: 1,019 usable addresses per AZ). */
export const DEFAULT_SUBNET_CIDR_MASK = 22;

export const MAX_AZS_RANGE = { min: 2, max: 6 } as const;
export const CIDR_PREFIX_RANGE = { min: 16, max: 24 } as const;
export const SUBNET_CIDR_MASK_RANGE = { min: 16, max: 28 } as const;

/** Props that shape the VPC the construct creates, and mean nothing with an existing `vpc`. */
const OWN_VPC_ONLY = ['cidr', 'maxAzs', 'subnetCidrMask', 'flowLogRetention'] as const;

interface ParsedCidr {
  readonly address: number;
  readonly prefix: number;
}

/** `a.b.c.d/n` as a 32-bit address and a prefix length, or undefined when malformed. */
export function parseCidr(cidr: string): ParsedCidr | undefined {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  if (!match) {
    return undefined;
  }
  const octets = match.slice(1, 5).map(Number);
  const prefix = Number(match[5]);
  if (octets.some((o) => o > 255) || prefix > 32) {
    return undefined;
  }
  return { address: octets.reduce((acc, o) => acc * 256 + o, 0), prefix };
}

/** Whether the host bits of the CIDR block are zero (`10.0.0.0/16`, not `10.0.0.1/16`). */
function isNetworkAddress({ address, prefix }: ParsedCidr): boolean {
  return address % 2 ** (32 - prefix) === 0;
}

function known<T>(value: T | undefined): value is T {
  return value !== undefined && !Token.isUnresolved(value);
}

function outside(value: number | undefined, range: { min: number; max: number }): boolean {
  return known(value) && Number.isInteger(value) && (value < range.min || value > range.max);
}

function fractional(value: number | undefined): boolean {
  return known(value) && !Number.isInteger(value);
}

/** The VPC prefix length, when `cidr` is known and well formed. */
function vpcPrefix(p: NetworkProps): number | undefined {
  const cidr = p.cidr ?? DEFAULT_CIDR;
  const parsed = Token.isUnresolved(cidr) ? undefined : parseCidr(cidr);
  return parsed && isNetworkAddress(parsed) && !outside(parsed.prefix, CIDR_PREFIX_RANGE) ? parsed.prefix : undefined;
}

function validInteger(value: number | undefined, fallback: number, range: { min: number; max: number }): number | undefined {
  const v = value ?? fallback;
  return known(v) && Number.isInteger(v) && !outside(v, range) ? v : undefined;
}

/** The VPC CIDR block of an existing VPC, or undefined when the VPC was imported without one. */
export function existingVpcCidr(vpc: ec2.IVpc): string | undefined {
  try {
    return vpc.vpcCidrBlock;
  } catch {
    return undefined; // Vpc.fromVpcAttributes without vpcCidrBlock throws on access
  }
}

/** The subnet type the endpoints go into in an existing VPC: isolated, else private, else none. */
export function existingVpcSubnetType(vpc: ec2.IVpc): ec2.SubnetType | undefined {
  if (vpc.isolatedSubnets.length > 0) {
    return ec2.SubnetType.PRIVATE_ISOLATED;
  }
  return vpc.privateSubnets.length > 0 ? ec2.SubnetType.PRIVATE_WITH_EGRESS : undefined;
}

/** Props that aws-cdk-lib needs as literals to lay out the subnets at synth time. */
const LAYOUT_PROPS = ['maxAzs', 'cidr', 'subnetCidrMask'] as const;

/**
 * One rule per way the props can be wrong. Unresolved tokens are skipped: their value is
 * only known at deploy time. The subnet layout is the exception: aws-cdk-lib divides the
 * CIDR block into one subnet per AZ at synth time, so it must know all three numbers.
 */
const RULES: readonly PropRule<NetworkProps>[] = [
  {
    condition: (p) => LAYOUT_PROPS.some((k) => p[k] !== undefined && Token.isUnresolved(p[k])),
    message: (p) => `${LAYOUT_PROPS.filter((k) => p[k] !== undefined && Token.isUnresolved(p[k])).join(', ')} must be known at synth time, `
      + 'because the construct lays out one subnet per AZ in the CIDR block, but a token was provided',
  },
  {
    condition: (p) => fractional(p.maxAzs),
    message: (p) => `maxAzs must be a whole number, but ${p.maxAzs} was provided`,
  },
  {
    condition: (p) => outside(p.maxAzs, MAX_AZS_RANGE),
    message: (p) => `maxAzs must be between ${MAX_AZS_RANGE.min} and ${MAX_AZS_RANGE.max}, but ${p.maxAzs} was provided`,
  },
  {
    condition: (p) => known(p.cidr) && parseCidr(p.cidr) === undefined,
    message: (p) => `cidr must be an IPv4 CIDR block such as ${DEFAULT_CIDR}, but '${p.cidr}' was provided`,
  },
  {
    condition: (p) => known(p.cidr) && parseCidr(p.cidr) !== undefined && !isNetworkAddress(parseCidr(p.cidr)!),
    message: (p) => `cidr must be a network address, with the host bits zero (such as ${DEFAULT_CIDR}), but '${p.cidr}' was provided`,
  },
  {
    condition: (p) => known(p.cidr) && outside(parseCidr(p.cidr)?.prefix, CIDR_PREFIX_RANGE),
    message: (p) => `cidr must have a prefix between /${CIDR_PREFIX_RANGE.min} and /${CIDR_PREFIX_RANGE.max}, but '${p.cidr}' was provided`,
  },
  {
    condition: (p) => fractional(p.subnetCidrMask),
    message: (p) => `subnetCidrMask must be a whole number, but ${p.subnetCidrMask} was provided`,
  },
  {
    condition: (p) => outside(p.subnetCidrMask, SUBNET_CIDR_MASK_RANGE),
    message: (p) => `subnetCidrMask must be between ${SUBNET_CIDR_MASK_RANGE.min} and ${SUBNET_CIDR_MASK_RANGE.max}, but ${p.subnetCidrMask} was provided`,
  },
  {
    condition: (p) => {
      const prefix = vpcPrefix(p);
      const mask = validInteger(p.subnetCidrMask, DEFAULT_SUBNET_CIDR_MASK, SUBNET_CIDR_MASK_RANGE);
      return prefix !== undefined && mask !== undefined && mask <= prefix;
    },
    message: (p) => `subnetCidrMask must be larger than the prefix of cidr (/${vpcPrefix(p)}), so that each subnet is smaller than the VPC, `
      + `but ${p.subnetCidrMask ?? DEFAULT_SUBNET_CIDR_MASK} was provided`,
  },
  {
    condition: (p) => {
      const prefix = vpcPrefix(p);
      const mask = validInteger(p.subnetCidrMask, DEFAULT_SUBNET_CIDR_MASK, SUBNET_CIDR_MASK_RANGE);
      const azs = validInteger(p.maxAzs, DEFAULT_MAX_AZS, MAX_AZS_RANGE);
      return prefix !== undefined && mask !== undefined && azs !== undefined && mask > prefix && azs > 2 ** (mask - prefix);
    },
    message: (p) => {
      const mask = p.subnetCidrMask ?? DEFAULT_SUBNET_CIDR_MASK;
      return `cidr ${p.cidr ?? DEFAULT_CIDR} holds at most ${2 ** (mask - vpcPrefix(p)!)} subnets of /${mask}, `
        + `but maxAzs ${p.maxAzs ?? DEFAULT_MAX_AZS} needs one per AZ: use a larger cidr, a larger subnetCidrMask or fewer maxAzs`;
    },
  },
  {
    condition: (p) => p.flowLogRetention === logs.RetentionDays.INFINITE,
    message: () => 'flowLogRetention must be a bounded number of days (flow logs hold IP addresses, which are personal data), but INFINITE was provided',
  },
  {
    condition: (p) => p.interfaceEndpoints !== undefined && !Token.isUnresolved(p.interfaceEndpoints) && p.interfaceEndpoints.length === 0,
    message: () => 'interfaceEndpoints must list at least one service (a VPC without internet access reaches AWS APIs only through them), '
      + 'but an empty list was provided',
  },
  {
    condition: (p) => repeated((p.interfaceEndpoints ?? []).map((s) => s.shortName)).length > 0,
    message: (p) => `interfaceEndpoints must name each service once (private DNS allows one endpoint per service), `
      + `but ${repeated((p.interfaceEndpoints ?? []).map((s) => s.shortName)).join(', ')} was provided more than once`,
  },
  {
    condition: (p) => repeated((p.gatewayEndpoints ?? []).map(gatewayShortName)).length > 0,
    message: (p) => `gatewayEndpoints must name each service once, but ${repeated((p.gatewayEndpoints ?? []).map(gatewayShortName)).join(', ')} `
      + 'was provided more than once',
  },
  {
    condition: (p) => p.vpc !== undefined && OWN_VPC_ONLY.some((k) => p[k] !== undefined),
    message: (p) => `${OWN_VPC_ONLY.filter((k) => p[k] !== undefined).join(', ')} can only be set when the construct creates the VPC, `
      + 'but they were provided together with vpc',
  },
  {
    condition: (p) => p.vpc !== undefined && existingVpcSubnetType(p.vpc) === undefined,
    message: () => 'vpc must have isolated or private subnets for the endpoints, but it has only public subnets',
  },
  {
    condition: (p) => p.vpc !== undefined && existingVpcCidr(p.vpc) === undefined,
    message: () => 'vpc must have a known vpcCidrBlock, because the endpoints admit HTTPS from it, but it was imported without one '
      + '(pass vpcCidrBlock to Vpc.fromVpcAttributes)',
  },
];

/** Every problem with the props, each saying what was received and what is allowed. */
export function validateNetworkProps(props: NetworkProps): string[] {
  return ruleProblems(RULES, props);
}
