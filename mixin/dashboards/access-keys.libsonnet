// The access keys dashboard, dashboards/iam-credentials-access-keys.json:
// one row per active access key, coloured by the rotation and unused
// limits.
//
// Written as Grafana exports it, with the thresholds, rule names and
// texts of _config from v (common.values). common.libsonnet has the frame
// and the variables that the dashboards share.
local common = import 'common.libsonnet';
local vars = common.variables;

function(v)
  local q = common.promql(v);
  local accountName = ' * on (account_id) group_left (name) topk by (account_id) (1, aws_iam_account_info{%s})' % q.sel;
  common.dashboard(
    v,
    uid='keys',
    title='Access keys',
    description='Every active AWS IAM access key with its ID, owner, team, age and last use, coloured by the rotation (%(keyRotation)s) and unused-credential (%(unused)s) policies.' % v,
    variables=[vars.datasource, vars.cluster(v), vars.job(v), vars.account(v), vars.team(v)],
    panels=[
      {
        id: 1,
        type: 'stat',
        title: 'Active access keys',
        description: 'Active access keys, root keys included. Filtered by team.',
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 4, w: 6, x: 0, y: 0 },
        targets: [
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'A',
            expr: 'count(count by (account_id, user, key) (aws_iam_access_key_active{%s} == 1 %s)) or vector(0)' % [q.sel, q.inTeam(q.sel)],
            editorMode: 'code',
            instant: true,
            range: false,
            legendFormat: '__auto',
          },
        ],
        fieldConfig: {
          defaults: {
            unit: 'none',
            decimals: 0,
            color: { mode: 'thresholds' },
            thresholds: { mode: 'absolute', steps: [{ color: 'blue', value: null }] },
            mappings: [],
          },
          overrides: [],
        },
        options: {
          reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
          colorMode: 'background',
          graphMode: 'none',
          justifyMode: 'center',
          orientation: 'auto',
          textMode: 'value',
          wideLayout: true,
          showPercentChange: false,
        },
      },
      {
        id: 2,
        type: 'stat',
        title: 'Over %(keyRotation)s' % v,
        description: 'Active IAM-user access keys older than %(keyRotation)s. Filtered by team.' % v,
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 4, w: 6, x: 6, y: 0 },
        targets: [
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'A',
            expr: 'count(count by (account_id, user, key) (%s > %s * 86400 %s)) or vector(0)' % [q.keyAge(q.notRoot), v.keyRotationDays, q.inTeam(q.sel)],
            editorMode: 'code',
            instant: true,
            range: false,
            legendFormat: '__auto',
          },
        ],
        fieldConfig: {
          defaults: {
            unit: 'none',
            decimals: 0,
            color: { mode: 'thresholds' },
            thresholds: {
              mode: 'absolute',
              steps: [{ color: 'green', value: null }, { color: 'red', value: 1 }],
            },
            mappings: [],
          },
          overrides: [],
        },
        options: {
          reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
          colorMode: 'background',
          graphMode: 'none',
          justifyMode: 'center',
          orientation: 'auto',
          textMode: 'value',
          wideLayout: true,
          showPercentChange: false,
        },
      },
      {
        id: 3,
        type: 'stat',
        title: 'Rotation due within %(keyRotationWarning)s' % v,
        description: 'Active IAM-user access keys between %(keyRotationDueDays)s and %(keyRotationDays)s days old. Filtered by team.' % v,
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 4, w: 6, x: 12, y: 0 },
        targets: [
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'A',
            expr: 'count(count by (account_id, user, key) (%s > %s * 86400 <= %s * 86400 %s)) or vector(0)' % [q.keyAge(q.notRoot), v.keyRotationDueDays, v.keyRotationDays, q.inTeam(q.sel)],
            editorMode: 'code',
            instant: true,
            range: false,
            legendFormat: '__auto',
          },
        ],
        fieldConfig: {
          defaults: {
            unit: 'none',
            decimals: 0,
            color: { mode: 'thresholds' },
            thresholds: {
              mode: 'absolute',
              steps: [{ color: 'green', value: null }, { color: 'yellow', value: 1 }],
            },
            mappings: [],
          },
          overrides: [],
        },
        options: {
          reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
          colorMode: 'background',
          graphMode: 'none',
          justifyMode: 'center',
          orientation: 'auto',
          textMode: 'value',
          wideLayout: true,
          showPercentChange: false,
        },
      },
      {
        id: 4,
        type: 'stat',
        title: 'Unused %(unusedDays)s+ days' % v,
        description: 'Active IAM-user access keys not used for %(unused)s or more (never-used keys count from creation). Filtered by team.' % v,
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 4, w: 6, x: 18, y: 0 },
        targets: [
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'A',
            expr: 'count(count by (account_id, user, key) (%s >= %s * 86400 %s)) or vector(0)' % [q.keyIdle(q.notRoot), v.unusedDays, q.inTeam(q.sel)],
            editorMode: 'code',
            instant: true,
            range: false,
            legendFormat: '__auto',
          },
        ],
        fieldConfig: {
          defaults: {
            unit: 'none',
            decimals: 0,
            color: { mode: 'thresholds' },
            thresholds: {
              mode: 'absolute',
              steps: [{ color: 'green', value: null }, { color: 'red', value: 1 }],
            },
            mappings: [],
          },
          overrides: [],
        },
        options: {
          reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
          colorMode: 'background',
          graphMode: 'none',
          justifyMode: 'center',
          orientation: 'auto',
          textMode: 'value',
          wideLayout: true,
          showPercentChange: false,
        },
      },
      {
        id: 5,
        type: 'table',
        title: 'Active access keys',
        description: "One row per active access key, root keys included. Access key ID: from iam:ListAccessKeys (--aws.access-key-ids), empty until looked up and for root keys. Team and owner: the user's tags, else its account's (aws_iam_user_tags, aws_iam_account_tags). Age: days since the key was created or last rotated (yellow over %(keyRotationDueDays)s, red over %(keyRotationDays)s). Last used: days since its last use, empty when never used; service and region: of that last use. Unused for: days without use, counted from creation for a key never used (red from %(unusedDays)s). Filtered by team. Click a column header to sort, a user to open the drill-down." % v,
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 20, w: 24, x: 0, y: 4 },
        targets: [
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'A',
            expr: 'max by (account_id, user, key) %(age)s / 86400 * on (account_id, user, key) group_left (access_key_id) topk by (account_id, user, key) (1, aws_iam_access_key_info{%(sel)s}) %(owner)s%(name)s or on (account_id, user, key) max by (account_id, user, key) %(age)s / 86400 %(owner)s%(name)s' % { age: q.keyAge(q.sel), sel: q.sel, owner: q.withOwner(q.sel), name: accountName },
            editorMode: 'code',
            instant: true,
            range: false,
            format: 'table',
            legendFormat: '__auto',
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'B',
            expr: 'max by (account_id, user, key) (time() - max without (region, service) (aws_iam_access_key_last_used_timestamp_seconds{%s}) and aws_iam_access_key_active{%s} == 1) / 86400 %s%s' % [q.sel, q.sel, q.withOwner(q.sel), accountName],
            editorMode: 'code',
            instant: true,
            range: false,
            format: 'table',
            legendFormat: '__auto',
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'C',
            expr: 'max by (account_id, user, key) %s / 86400 %s%s' % [q.keyIdle(q.sel), q.withOwner(q.sel), accountName],
            editorMode: 'code',
            instant: true,
            range: false,
            format: 'table',
            legendFormat: '__auto',
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'D',
            expr: 'group by (account_id, user, key, service, region) (aws_iam_access_key_last_used_timestamp_seconds{%s} and ignoring (service, region) aws_iam_access_key_active{%s} == 1) %s%s' % [q.sel, q.sel, q.withOwner(q.sel), accountName],
            editorMode: 'code',
            instant: true,
            range: false,
            format: 'table',
            legendFormat: '__auto',
          },
        ],
        transformations: [
          { id: 'merge', options: {} },
          {
            id: 'organize',
            options: {
              excludeByName: { Time: true, job: true, instance: true, 'Value #D': true },
              indexByName: {
                account_id: 0,
                name: 1,
                user: 2,
                tag_team: 3,
                tag_owner: 4,
                key: 5,
                access_key_id: 6,
                'Value #A': 7,
                'Value #B': 8,
                'Value #C': 9,
                service: 10,
                region: 11,
              },
              renameByName: {},
            },
          },
        ],
        fieldConfig: {
          defaults: {
            custom: { align: 'auto', filterable: true, cellOptions: { type: 'auto' }, inspect: false },
            mappings: [],
            color: { mode: 'thresholds' },
            thresholds: { mode: 'absolute', steps: [{ color: 'text', value: null }] },
          },
          overrides: [
            {
              matcher: { id: 'byName', options: 'account_id' },
              properties: [{ id: 'displayName', value: 'Account' }, { id: 'custom.width', value: 140 }],
            },
            {
              matcher: { id: 'byName', options: 'name' },
              properties: [{ id: 'displayName', value: 'Name' }],
            },
            {
              matcher: { id: 'byName', options: 'user' },
              properties: [
                { id: 'displayName', value: 'User' },
                {
                  id: 'links',
                  value: [
                    {
                      title: 'Open ${__value.raw} in the user drill-down',
                      url: '/d/%(uidPrefix)suser?${__url_time_range}&${datasource:queryparam}%(urlVars)s&var-user=${__value.raw}' % v,
                    },
                  ],
                },
              ],
            },
            {
              matcher: { id: 'byName', options: 'tag_team' },
              properties: [
                { id: 'displayName', value: 'Team' },
                {
                  id: 'mappings',
                  value: [
                    {
                      type: 'special',
                      options: { match: 'null', result: { text: '(none)', index: 0 } },
                    },
                    {
                      type: 'special',
                      options: { match: 'empty', result: { text: '(none)', index: 1 } },
                    },
                  ],
                },
              ],
            },
            {
              matcher: { id: 'byName', options: 'tag_owner' },
              properties: [
                { id: 'displayName', value: 'Owner' },
                {
                  id: 'mappings',
                  value: [
                    {
                      type: 'special',
                      options: { match: 'null', result: { text: '(none)', index: 0 } },
                    },
                    {
                      type: 'special',
                      options: { match: 'empty', result: { text: '(none)', index: 1 } },
                    },
                  ],
                },
              ],
            },
            {
              matcher: { id: 'byName', options: 'key' },
              properties: [{ id: 'displayName', value: 'Key' }, { id: 'custom.width', value: 60 }],
            },
            {
              matcher: { id: 'byName', options: 'access_key_id' },
              properties: [{ id: 'displayName', value: 'Access key ID' }, { id: 'custom.width', value: 190 }],
            },
            {
              matcher: { id: 'byName', options: 'Value #A' },
              properties: [
                { id: 'displayName', value: 'Age (days)' },
                { id: 'unit', value: 'none' },
                { id: 'decimals', value: 1 },
                {
                  id: 'thresholds',
                  value: {
                    mode: 'absolute',
                    steps: [
                      { color: 'green', value: null },
                      { color: 'yellow', value: v.keyRotationDueDays },
                      { color: 'red', value: v.keyRotationDays },
                    ],
                  },
                },
                { id: 'color', value: { mode: 'thresholds' } },
                { id: 'custom.cellOptions', value: { type: 'color-background', mode: 'basic' } },
              ],
            },
            {
              matcher: { id: 'byName', options: 'Value #B' },
              properties: [
                { id: 'displayName', value: 'Last used (days ago)' },
                { id: 'unit', value: 'none' },
                { id: 'decimals', value: 1 },
              ],
            },
            {
              matcher: { id: 'byName', options: 'Value #C' },
              properties: [
                { id: 'displayName', value: 'Unused for (days)' },
                { id: 'unit', value: 'none' },
                { id: 'decimals', value: 1 },
                {
                  id: 'thresholds',
                  value: {
                    mode: 'absolute',
                    steps: [{ color: 'green', value: null }, { color: 'red', value: v.unusedDays }],
                  },
                },
                { id: 'color', value: { mode: 'thresholds' } },
                { id: 'custom.cellOptions', value: { type: 'color-background', mode: 'basic' } },
              ],
            },
            {
              matcher: { id: 'byName', options: 'service' },
              properties: [{ id: 'displayName', value: 'Last used service' }],
            },
            {
              matcher: { id: 'byName', options: 'region' },
              properties: [{ id: 'displayName', value: 'Last used region' }],
            },
          ],
        },
        options: {
          showHeader: true,
          cellHeight: 'sm',
          footer: { show: false, reducer: ['sum'], countRows: false, fields: '' },
          sortBy: [{ displayName: 'Age (days)', desc: true }],
        },
      },
    ],
  )
