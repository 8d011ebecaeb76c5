// A YAML writer for rule files that reads like a hand-written one, which
// std.manifestYamlDoc does not (it quotes every string and sorts the keys):
// keys in the order that rule files use, multi-line expressions as literal
// blocks, long descriptions folded, and strings plain wherever YAML reads
// them back as the same string (else JSON-quoted, which YAML reads too).
local keyOrder = [
  'name',
  'interval',
  'rules',
  'record',
  'alert',
  'expr',
  'for',
  'keep_firing_for',
  'labels',
  'annotations',
  'severity',
  'category',
  'summary',
  'description',
  'runbook_url',
];

// Keys whose long one-line strings are written folded (>-), wrapped at
// foldWidth characters.
local foldKeys = ['description'];
local foldWidth = 100;

local fields(o) =
  local rank(k) = local i = std.find(k, keyOrder); if i == [] then std.length(keyOrder) else i[0];
  std.sort(std.objectFields(o), function(k) '%03d %s' % [rank(k), k]);

local pad(n) = std.repeat(' ', n);
local chars(s) = std.stringChars(s);
// printable: s has no control character (JSON escapes them all, and only
// them, besides " and \; a check by character is slow in jsonnet).
local printable(s) =
  local t = std.strReplace(std.strReplace(s, '\\', ''), '"', '');
  std.escapeStringJson(t) == '"' + t + '"';
// occurrences counts sub in s with std.strReplace, which is native: the
// search functions of the jsonnet library go character by character.
local occurrences(s, sub) = (std.length(s) - std.length(std.strReplace(s, sub, ''))) / std.length(sub);
local contains(s, sub) = occurrences(s, sub) > 0;

// plain: YAML 1.1 and 1.2 read s, unquoted, as the string s.
local indicators = std.set(chars('-?:,[]{}#&*!|>\'"%@`=. '));
local numberStart = std.set(chars('0123456789+-.'));
local numberChars = std.set(chars('0123456789abcdefABCDEFxXoObB+-._:'));
local plain(s) =
  local n = std.length(s);
  local numberish = std.setMember(s[0], numberStart) &&
                    std.all([std.setMember(ch, numberChars) for ch in chars(s)]);
  n > 0 && printable(s) &&
  !std.setMember(s[0], indicators) &&
  s[n - 1] != ' ' && s[n - 1] != ':' &&
  !contains(s, ': ') && !contains(s, ' #') &&
  !numberish &&
  !std.member(['true', 'false', 'yes', 'no', 'on', 'off', 'y', 'n', 'null', '~'], std.asciiLower(s));

// literal: s can be a literal block (|): several lines, none with trailing
// blanks, the first not indented.
local literal(s) =
  local lines = std.split(s, '\n');
  contains(s, '\n') && s[0] != ' ' &&
  std.all([printable(l) && (l == '' || l[std.length(l) - 1] != ' ') for l in lines]);

// foldable: s can be folded (>-) at single spaces and read back the same.
local foldable(s) =
  std.length(s) > foldWidth && printable(s) && !contains(s, '  ') &&
  s[0] != ' ' && s[std.length(s) - 1] != ' ';

// wrap splits s at single spaces into lines of at most foldWidth
// characters, but not inside a template action {{ ... }}; a longer word or
// action stays whole.
local wrap(s) =
  local opens(t) = occurrences(t, '{{') > occurrences(t, '}}');
  local join(acc, w) =
    local n = std.length(acc);
    if n > 0 && opens(acc[n - 1]) then acc[:n - 1] + [acc[n - 1] + ' ' + w] else acc + [w];
  local words = std.foldl(join, std.split(s, ' '), []);
  local step(acc, w) =
    if acc.line == '' then { lines: acc.lines, line: w }
    else if std.length(acc.line) + 1 + std.length(w) <= foldWidth then { lines: acc.lines, line: acc.line + ' ' + w }
    else { lines: acc.lines + [acc.line], line: w };
  local done = std.foldl(step, words, { lines: [], line: '' });
  done.lines + [done.line];

local scalar(v) =
  if std.isString(v) then (if plain(v) then v else std.escapeStringJson(v))
  else if std.isBoolean(v) || std.isNumber(v) || v == null then std.manifestJson(v)
  else error 'not a scalar: ' + std.manifestJson(v);

local block(indicator, lines, ind) =
  ' ' + indicator + '\n' + std.join('', [(if l == '' then '' else pad(ind) + l) + '\n' for l in lines]);

{
  // manifest writes a document, an object, as YAML.
  manifest(o):: $.mapping(o, 0),

  // mapping writes the keys of an object at indentation ind.
  mapping(o, ind):: std.join('', [pad(ind) + scalar(k) + $.value(k, o[k], ind) for k in fields(o)]),

  // value is what follows `key` for a value at indentation ind.
  value(k, v, ind)::
    if std.isObject(v) && std.length(v) > 0 then ':\n' + $.mapping(v, ind + 2)
    else if std.isArray(v) && std.length(v) > 0 then ':\n' + $.sequence(v, ind + 2, k == 'rules')
    else if std.isObject(v) then ': {}\n'
    else if std.isArray(v) then ': []\n'
    else if std.isString(v) && literal(v) then
      local body = std.rstripChars(v, '\n');
      local trailing = std.length(v) - std.length(body);
      local chomp = if trailing == 0 then '|-' else if trailing == 1 then '|' else '|+';
      ':' + block(chomp, std.split(body, '\n') + std.repeat([''], std.max(0, trailing - 1)), ind + 2)
    else if std.isString(v) && std.member(foldKeys, k) && foldable(v) then ':' + block('>-', wrap(v), ind + 2)
    else ': ' + scalar(v) + '\n',

  // sequence writes the items of an array at indentation ind, with a blank
  // line between them if spaced.
  sequence(a, ind, spaced):: std.join(if spaced then '\n' else '', [
    if std.isObject(x) && std.length(x) > 0 then pad(ind) + '- ' + std.lstripChars($.mapping(x, ind + 2), ' ')
    else if std.isObject(x) || std.isArray(x) then error 'empty or nested list items are not written'
    else pad(ind) + '- ' + scalar(x) + '\n'
    for x in a
  ]),
}
