import { parseConfig } from '../../shared/config';
import { ConfigError } from '../../shared/errors';

describe('SHADOW_MODE', () => {
  it('defaults to background locally and inline on serverless stages', () => {
    expect(parseConfig({}).shadowMode).toBe('background');
    expect(parseConfig({ MODELFLEET_STAGE: 'prod' }).shadowMode).toBe('inline');
    expect(parseConfig({ MODELFLEET_STAGE: 'prod', SHADOW_MODE: 'background' }).shadowMode).toBe(
      'background',
    );
  });

  it('refuses anything else, naming the variable', () => {
    expect(() => parseConfig({ SHADOW_MODE: 'later' })).toThrow(
      new ConfigError('SHADOW_MODE', 'must be one of background, inline, got "later"'),
    );
  });
});
