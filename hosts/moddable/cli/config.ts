/**
 * `mc/config` of the x-cli-lin executable (mcconfig generates none for x-cli platforms). The file root is
 * where the SDK's Linux `Preference` keeps its one JSON file (`modpreferences.json`): XSDOT_DATA_DIR
 * when set (the integration tests give each run a fresh directory), else /tmp/ as in the simulator.
 */
import { getenv } from 'xsdot/hosts/moddable/system/system';

const dataDir = getenv('XSDOT_DATA_DIR');

export default Object.freeze({
  platform: 'x-cli-lin',
  /** XSDOT_PORT, for apps served through xsdot/host's serve() (start.ts reads it too). */
  port: getenv('XSDOT_PORT'),
  file: Object.freeze({ root: dataDir ? (dataDir.endsWith('/') ? dataDir : `${dataDir}/`) : '/tmp/' }),
});
