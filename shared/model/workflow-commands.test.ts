import { describe, expect, it } from 'vitest';
import { annotationLocation, parseWorkflowCommand } from './workflow-commands.js';

describe('parseWorkflowCommand', () => {
  const cases: Array<[string, string, ReturnType<typeof parseWorkflowCommand>]> = [
    ['an ordinary line is no command', 'npm test', undefined],
    ['a line merely mentioning a command is no command', 'echo ::group::x', undefined],
    ['opens a group with its title', '::group::Install dependencies', { kind: 'group', title: 'Install dependencies' }],
    ['a group without a title gets one', '::group::', { kind: 'group', title: 'Group' }],
    ['closes a group', '::endgroup::', { kind: 'endgroup' }],
    ['an error without properties', '::error::Something broke', { kind: 'annotation', level: 'error', message: 'Something broke' }],
    ['a warning with file, line and column', '::warning file=src/a.ts,line=12,col=5::Unused variable',
      { kind: 'annotation', level: 'warning', message: 'Unused variable', file: 'src/a.ts', line: 12, col: 5 }],
    ['a notice with a title and end positions', '::notice title=Deprecation,file=b.js,line=1,endLine=3,col=2,endColumn=9::Use x',
      { kind: 'annotation', level: 'notice', message: 'Use x', title: 'Deprecation', file: 'b.js', line: 1, endLine: 3, col: 2, endCol: 9 }],
    ['unescapes GitHub\'s percent escapes in data and properties', '::error file=C%3A/x%2Cy.ts::50%25 done%0Anext line',
      { kind: 'annotation', level: 'error', message: '50% done\nnext line', file: 'C:/x,y.ts' }],
    ['reads escapes in upper case only, as GitHub does: a lower-case one stays as printed', '::warning title=user%3apass%2cword::a%0ab',
      { kind: 'annotation', level: 'warning', message: 'a%0ab', title: 'user%3apass%2cword' }],
    ['ignores a line number that is not a positive integer', '::error file=a.ts,line=zero::m', { kind: 'annotation', level: 'error', message: 'm', file: 'a.ts' }],
    ['an unknown command is an ordinary line', '::set-output name=x::y', undefined],
    ['a trailing carriage return does not end up in the message', '::error::done\r', { kind: 'annotation', level: 'error', message: 'done' }],
    ['command names are case-insensitive', '::ERROR::loud', { kind: 'annotation', level: 'error', message: 'loud' }],
    ['adds a mask, unescaped and without surrounding blanks', '::add-mask:: hunter2%25x ', { kind: 'add-mask', value: 'hunter2%x' }],
    ['a mask value keeps its colons', '::add-mask::a::b:c', { kind: 'add-mask', value: 'a::b:c' }],
    ['an empty mask is no command', '::add-mask::  ', undefined],
    ['a debug message', '::debug::cache key is abc%0Adef', { kind: 'debug', message: 'cache key is abc\ndef' }],
    ['stops commands with a token', '::stop-commands::7f3a-91', { kind: 'stop-commands', token: '7f3a-91' }],
    ['stop-commands without a token is no command', '::stop-commands::', undefined],
    ['an unknown command with a dash is an ordinary line', '::save-state name=x::y', undefined],
  ];
  for (const [name, line, expected] of cases) it(name, () => expect(parseWorkflowCommand(line)).toEqual(expected));
});

describe('annotationLocation', () => {
  it('reads as file:line:col, shortened when parts are missing', () => {
    expect(annotationLocation({ file: 'a.ts', line: 3, col: 4 })).toBe('a.ts:3:4');
    expect(annotationLocation({ file: 'a.ts', line: 3 })).toBe('a.ts:3');
    expect(annotationLocation({ file: 'a.ts' })).toBe('a.ts');
    expect(annotationLocation({})).toBe('');
  });
});
