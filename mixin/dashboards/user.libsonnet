// The user dashboard, dashboards/iam-credentials-user.json: one IAM user
// across accounts, the drill-down that the other dashboards link to.
//
// Written as Grafana exports it, with the thresholds, rule names and
// texts of _config from v (common.values). common.libsonnet has the frame
// and the variables that the dashboards share.
local common = import 'common.libsonnet';
local vars = common.variables;

function(v)
  local q = common.promql(v);
  local user = q.sel + ',user="$user"';
  local name = ' * on (account_id) group_left (name) topk by (account_id) (1, aws_iam_account_info{%s})' % q.sel;
  common.dashboard(
    v,
    uid='user',
    title='User',
    description='One IAM user (by name) across every account: console password, MFA, both access keys and, during a rotation, who uses them, both signing certificates, and its firing alerts.',
    variables=[
      vars.datasource,
      vars.cluster(v),
      vars.job(v),
      vars.account(v),
      {
        name: 'user',
        label: 'User',
        type: 'query',
        datasource: { type: 'prometheus', uid: '${datasource}' },
        definition: 'label_values(aws_iam_user_info{%(jobSel)s,account_id=~"$account_id"}, user)' % v,
        query: {
          qryType: 1,
          query: 'label_values(aws_iam_user_info{%(jobSel)s,account_id=~"$account_id"}, user)' % v,
          refId: 'PrometheusVariableQueryEditor-VariableQuery',
        },
        refresh: 2,
        regex: '',
        sort: 1,
        hide: 0,
        options: [],
        skipUrlSync: false,
        multi: false,
        includeAll: false,
        current: {},
      },
    ],
    panels=[
      {
        id: 1,
        type: 'table',
        title: 'Identity',
        description: "The user's ARN, its team and owner (its tags, else its account's: aws_iam_user_tags, aws_iam_account_tags), and its age in each account where it exists.",
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 5, w: 24, x: 0, y: 0 },
        targets: [
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'A',
            expr: 'max by (account_id, arn) (aws_iam_user_info{%(jobSel)s,account_id=~"$account_id",user="$user"}) * on (account_id) group_left (name) topk by (account_id) (1, aws_iam_account_info{%(jobSel)s,account_id=~"$account_id"})' % v,
            editorMode: 'code',
            instant: true,
            range: false,
            format: 'table',
            legendFormat: '__auto',
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'B',
            expr: 'max by (account_id) (time() - aws_iam_user_creation_timestamp_seconds{%(jobSel)s,account_id=~"$account_id",user="$user"}) / 86400 * on (account_id) group_left (name) topk by (account_id) (1, aws_iam_account_info{%(jobSel)s,account_id=~"$account_id"})' % v,
            editorMode: 'code',
            instant: true,
            range: false,
            format: 'table',
            legendFormat: '__auto',
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'C',
            expr: 'max by (account_id, tag_owner, tag_team) %s%s' % [q.owners(q.sel, user='user="$user"', team=false), name],
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
              excludeByName: { Time: true, job: true, instance: true, 'Value #A': true, 'Value #C': true },
              indexByName: { account_id: 0, arn: 2, tag_team: 3, tag_owner: 4, 'Value #B': 5, name: 1 },
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
              matcher: { id: 'byName', options: 'arn' },
              properties: [{ id: 'displayName', value: 'ARN' }],
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
              matcher: { id: 'byName', options: 'Value #B' },
              properties: [
                { id: 'displayName', value: 'Created (days ago)' },
                { id: 'unit', value: 'none' },
                { id: 'decimals', value: 1 },
              ],
            },
          ],
        },
        options: {
          showHeader: true,
          cellHeight: 'sm',
          footer: { show: false, reducer: ['sum'], countRows: false, fields: '' },
        },
      },
      {
        id: 2,
        type: 'table',
        title: 'Console password and MFA',
        description: 'Password and MFA per account. Console password: no when the user has none. Unused for: days since the password was last used, or since it was set when never used (red from %(unusedDays)s).' % v,
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 5, w: 24, x: 0, y: 5 },
        targets: [
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'A',
            expr: 'max by (account_id) (aws_iam_user_password_enabled{%s} or on (%s, account_id, user) 0 * aws_iam_user_info{%s})%s' % [user, v.target, user, name],
            editorMode: 'code',
            instant: true,
            range: false,
            format: 'table',
            legendFormat: '__auto',
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'B',
            expr: 'max by (account_id) (aws_iam_user_mfa_active{%(jobSel)s,account_id=~"$account_id",user="$user"}) * on (account_id) group_left (name) topk by (account_id) (1, aws_iam_account_info{%(jobSel)s,account_id=~"$account_id"})' % v,
            editorMode: 'code',
            instant: true,
            range: false,
            format: 'table',
            legendFormat: '__auto',
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'C',
            expr: 'max by (account_id) (time() - aws_iam_user_password_last_used_timestamp_seconds{%(jobSel)s,account_id=~"$account_id",user="$user"}) / 86400 * on (account_id) group_left (name) topk by (account_id) (1, aws_iam_account_info{%(jobSel)s,account_id=~"$account_id"})' % v,
            editorMode: 'code',
            instant: true,
            range: false,
            format: 'table',
            legendFormat: '__auto',
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'D',
            expr: 'max by (account_id) (time() - aws_iam_user_password_last_changed_timestamp_seconds{%(jobSel)s,account_id=~"$account_id",user="$user"}) / 86400 * on (account_id) group_left (name) topk by (account_id) (1, aws_iam_account_info{%(jobSel)s,account_id=~"$account_id"})' % v,
            editorMode: 'code',
            instant: true,
            range: false,
            format: 'table',
            legendFormat: '__auto',
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'E',
            expr: 'max by (account_id) (aws_iam_user_password_next_rotation_timestamp_seconds{%(jobSel)s,account_id=~"$account_id",user="$user"} - time()) / 86400 * on (account_id) group_left (name) topk by (account_id) (1, aws_iam_account_info{%(jobSel)s,account_id=~"$account_id"})' % v,
            editorMode: 'code',
            instant: true,
            range: false,
            format: 'table',
            legendFormat: '__auto',
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'F',
            expr: 'max by (account_id) %s / 86400%s' % [q.passwordIdle(user), name],
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
              excludeByName: { Time: true, job: true, instance: true },
              indexByName: {
                account_id: 0,
                'Value #A': 2,
                'Value #B': 3,
                'Value #C': 4,
                'Value #D': 5,
                'Value #E': 6,
                'Value #F': 7,
                name: 1,
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
              matcher: { id: 'byName', options: 'Value #A' },
              properties: [
                { id: 'displayName', value: 'Console password' },
                { id: 'unit', value: 'none' },
                {
                  id: 'thresholds',
                  value: { mode: 'absolute', steps: [{ color: 'text', value: null }] },
                },
                { id: 'color', value: { mode: 'thresholds' } },
                {
                  id: 'mappings',
                  value: [
                    {
                      type: 'value',
                      options: {
                        '0': { text: 'no', color: 'text', index: 0 },
                        '1': { text: 'yes', color: 'text', index: 1 },
                      },
                    },
                  ],
                },
              ],
            },
            {
              matcher: { id: 'byName', options: 'Value #B' },
              properties: [
                { id: 'displayName', value: 'MFA' },
                { id: 'unit', value: 'none' },
                {
                  id: 'thresholds',
                  value: {
                    mode: 'absolute',
                    steps: [{ color: 'red', value: null }, { color: 'green', value: 1 }],
                  },
                },
                { id: 'color', value: { mode: 'thresholds' } },
                { id: 'custom.cellOptions', value: { type: 'color-background', mode: 'basic' } },
                {
                  id: 'mappings',
                  value: [
                    {
                      type: 'value',
                      options: {
                        '0': { text: 'none', color: 'red', index: 0 },
                        '1': { text: 'enabled', color: 'green', index: 1 },
                      },
                    },
                  ],
                },
              ],
            },
            {
              matcher: { id: 'byName', options: 'Value #C' },
              properties: [
                { id: 'displayName', value: 'Password last used (days ago)' },
                { id: 'unit', value: 'none' },
                { id: 'decimals', value: 1 },
              ],
            },
            {
              matcher: { id: 'byName', options: 'Value #D' },
              properties: [
                { id: 'displayName', value: 'Password last set (days ago)' },
                { id: 'unit', value: 'none' },
                { id: 'decimals', value: 1 },
              ],
            },
            {
              matcher: { id: 'byName', options: 'Value #E' },
              properties: [
                { id: 'displayName', value: 'Next forced change (in days)' },
                { id: 'unit', value: 'none' },
                { id: 'decimals', value: 1 },
              ],
            },
            {
              matcher: { id: 'byName', options: 'Value #F' },
              properties: [
                { id: 'displayName', value: 'Password unused for (days)' },
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
          ],
        },
        options: {
          showHeader: true,
          cellHeight: 'sm',
          footer: { show: false, reducer: ['sum'], countRows: false, fields: '' },
        },
      },
      {
        id: 3,
        type: 'table',
        title: 'Access keys',
        description: 'The access keys in each account, active and inactive (an empty slot has no row). Age counts from creation or last rotation and is shown for inactive keys too. Unused for: active keys only, days since the last use or, never used, since creation. Last used service and region: of that last use.',
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 6, w: 24, x: 0, y: 10 },
        targets: [
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'A',
            expr: 'max by (account_id, key) (aws_iam_access_key_active{%(jobSel)s,account_id=~"$account_id",user="$user"}) * on (account_id) group_left (name) topk by (account_id) (1, aws_iam_account_info{%(jobSel)s,account_id=~"$account_id"})' % v,
            editorMode: 'code',
            instant: true,
            range: false,
            format: 'table',
            legendFormat: '__auto',
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'B',
            expr: 'max by (account_id, key) (time() - aws_iam_access_key_last_rotated_timestamp_seconds{%(jobSel)s,account_id=~"$account_id",user="$user"}) / 86400 * on (account_id) group_left (name) topk by (account_id) (1, aws_iam_account_info{%(jobSel)s,account_id=~"$account_id"})' % v,
            editorMode: 'code',
            instant: true,
            range: false,
            format: 'table',
            legendFormat: '__auto',
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'C',
            expr: 'max by (account_id, key) (time() - aws_iam_access_key_last_used_timestamp_seconds{%(jobSel)s,account_id=~"$account_id",user="$user"}) / 86400 * on (account_id) group_left (name) topk by (account_id) (1, aws_iam_account_info{%(jobSel)s,account_id=~"$account_id"})' % v,
            editorMode: 'code',
            instant: true,
            range: false,
            format: 'table',
            legendFormat: '__auto',
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'D',
            expr: 'max by (account_id, key) %s / 86400%s' % [q.keyIdle(user), name],
            editorMode: 'code',
            instant: true,
            range: false,
            format: 'table',
            legendFormat: '__auto',
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'E',
            expr: 'group by (account_id, key, service, region) (aws_iam_access_key_last_used_timestamp_seconds{%s})%s' % [user, name],
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
              excludeByName: { Time: true, job: true, instance: true, 'Value #E': true },
              indexByName: {
                account_id: 0,
                key: 2,
                'Value #A': 3,
                'Value #B': 4,
                'Value #C': 5,
                'Value #D': 6,
                service: 7,
                region: 8,
                name: 1,
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
              matcher: { id: 'byName', options: 'key' },
              properties: [{ id: 'displayName', value: 'Key' }, { id: 'custom.width', value: 60 }],
            },
            {
              matcher: { id: 'byName', options: 'Value #A' },
              properties: [
                { id: 'displayName', value: 'Active' },
                { id: 'unit', value: 'none' },
                {
                  id: 'thresholds',
                  value: { mode: 'absolute', steps: [{ color: 'text', value: null }] },
                },
                { id: 'color', value: { mode: 'thresholds' } },
                {
                  id: 'mappings',
                  value: [
                    {
                      type: 'value',
                      options: {
                        '0': { text: 'inactive', color: 'text', index: 0 },
                        '1': { text: 'active', color: 'text', index: 1 },
                      },
                    },
                  ],
                },
              ],
            },
            {
              matcher: { id: 'byName', options: 'Value #B' },
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
              matcher: { id: 'byName', options: 'Value #C' },
              properties: [
                { id: 'displayName', value: 'Last used (days ago)' },
                { id: 'unit', value: 'none' },
                { id: 'decimals', value: 1 },
              ],
            },
            {
              matcher: { id: 'byName', options: 'Value #D' },
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
        },
      },
      {
        id: 6,
        type: 'table',
        title: 'Who uses the keys (CloudTrail sample)',
        description: "Only with --aws.key-callers, and only for the keys of an open rotation (two active keys): each key's callers in CloudTrail event history, at most --aws.key-callers.per-key a key, those with the most sampled events. Sampled: by default one page of 50 events a day over 7 days (--aws.key-callers.pages-per-day, --aws.key-callers.window), in the region of the key's last use and the partition's home region (us-east-1), so the events are a sample, not a count. Management events only: a key used only for data events (S3 objects, Lambda invokes, DynamoDB items), or only in other regions, shows no caller. Origin vpc_endpoint, aws_service or aws_ip_range: the caller runs inside AWS and should use a role. Last seen (how long ago): newest first. More in [docs/owners.md](https://github.com/iam-credential-exporter/iam_credential_exporter/blob/main/docs/owners.md#who-still-uses-the-old-key-key-callers).",
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 6, w: 24, x: 0, y: 16 },
        targets: [
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'A',
            expr: '(time() - max by (account_id, key, access_key_id, source_ip, user_agent, event_source, origin) (aws_iam_access_key_caller_last_seen_timestamp_seconds{%s}))%s' % [user, name],
            editorMode: 'code',
            instant: true,
            range: false,
            format: 'table',
            legendFormat: '__auto',
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'B',
            expr: 'max by (account_id, key, access_key_id, source_ip, user_agent, event_source, origin) (aws_iam_access_key_caller_sampled_events{%s})%s' % [user, name],
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
              excludeByName: { Time: true, job: true, instance: true },
              indexByName: {
                account_id: 0,
                key: 2,
                access_key_id: 3,
                source_ip: 4,
                user_agent: 5,
                event_source: 6,
                origin: 7,
                'Value #A': 8,
                'Value #B': 9,
                name: 1,
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
              matcher: { id: 'byName', options: 'key' },
              properties: [{ id: 'displayName', value: 'Key' }, { id: 'custom.width', value: 60 }],
            },
            {
              matcher: { id: 'byName', options: 'access_key_id' },
              properties: [{ id: 'displayName', value: 'Access key ID' }, { id: 'custom.width', value: 190 }],
            },
            {
              matcher: { id: 'byName', options: 'source_ip' },
              properties: [{ id: 'displayName', value: 'Source IP' }],
            },
            {
              matcher: { id: 'byName', options: 'user_agent' },
              properties: [{ id: 'displayName', value: 'User agent' }],
            },
            {
              matcher: { id: 'byName', options: 'event_source' },
              properties: [{ id: 'displayName', value: 'Service' }],
            },
            {
              matcher: { id: 'byName', options: 'origin' },
              properties: [
                { id: 'displayName', value: 'Origin' },
                {
                  id: 'mappings',
                  value: [
                    {
                      type: 'value',
                      options: {
                        vpc_endpoint: { text: 'VPC endpoint: use a role', color: 'orange', index: 0 },
                        aws_service: { text: 'AWS service: use a role', color: 'orange', index: 1 },
                        aws_ip_range: { text: 'AWS IP range: use a role', color: 'orange', index: 2 },
                        other: { text: 'other', color: 'text', index: 3 },
                      },
                    },
                  ],
                },
                { id: 'custom.cellOptions', value: { type: 'color-text' } },
              ],
            },
            {
              matcher: { id: 'byName', options: 'Value #A' },
              properties: [{ id: 'displayName', value: 'Last seen (ago)' }, { id: 'unit', value: 's' }, { id: 'decimals', value: 0 }],
            },
            {
              matcher: { id: 'byName', options: 'Value #B' },
              properties: [{ id: 'displayName', value: 'Sampled events' }, { id: 'unit', value: 'none' }],
            },
          ],
        },
        options: {
          showHeader: true,
          cellHeight: 'sm',
          footer: { show: false, reducer: ['sum'], countRows: false, fields: '' },
          sortBy: [{ displayName: 'Last seen (ago)', desc: false }],
        },
      },
      {
        id: 4,
        type: 'table',
        title: 'Signing certificates',
        description: 'The X.509 signing certificates in each account, active and inactive (an empty slot has no row).',
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 6, w: 12, x: 0, y: 22 },
        targets: [
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'A',
            expr: 'max by (account_id, cert) (aws_iam_signing_certificate_active{%(jobSel)s,account_id=~"$account_id",user="$user"}) * on (account_id) group_left (name) topk by (account_id) (1, aws_iam_account_info{%(jobSel)s,account_id=~"$account_id"})' % v,
            editorMode: 'code',
            instant: true,
            range: false,
            format: 'table',
            legendFormat: '__auto',
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'B',
            expr: 'max by (account_id, cert) (time() - aws_iam_signing_certificate_last_rotated_timestamp_seconds{%(jobSel)s,account_id=~"$account_id",user="$user"}) / 86400 * on (account_id) group_left (name) topk by (account_id) (1, aws_iam_account_info{%(jobSel)s,account_id=~"$account_id"})' % v,
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
              excludeByName: { Time: true, job: true, instance: true },
              indexByName: { account_id: 0, cert: 2, 'Value #A': 3, 'Value #B': 4, name: 1 },
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
              matcher: { id: 'byName', options: 'cert' },
              properties: [{ id: 'displayName', value: 'Cert' }, { id: 'custom.width', value: 60 }],
            },
            {
              matcher: { id: 'byName', options: 'Value #A' },
              properties: [
                { id: 'displayName', value: 'Active' },
                { id: 'unit', value: 'none' },
                {
                  id: 'thresholds',
                  value: { mode: 'absolute', steps: [{ color: 'text', value: null }] },
                },
                { id: 'color', value: { mode: 'thresholds' } },
                {
                  id: 'mappings',
                  value: [
                    {
                      type: 'value',
                      options: {
                        '0': { text: 'inactive', color: 'text', index: 0 },
                        '1': { text: 'active', color: 'text', index: 1 },
                      },
                    },
                  ],
                },
              ],
            },
            {
              matcher: { id: 'byName', options: 'Value #B' },
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
                      { color: 'red', value: v.signingCertificateDays },
                    ],
                  },
                },
                { id: 'color', value: { mode: 'thresholds' } },
                { id: 'custom.cellOptions', value: { type: 'color-background', mode: 'basic' } },
              ],
            },
          ],
        },
        options: {
          showHeader: true,
          cellHeight: 'sm',
          footer: { show: false, reducer: ['sum'], countRows: false, fields: '' },
        },
      },
      {
        id: 5,
        type: 'table',
        title: 'Firing alerts',
        description: 'IAM credential alerts firing now for this user.',
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 6, w: 12, x: 12, y: 22 },
        targets: [
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'A',
            expr: 'sum by (alertname, severity, account_id, key, cert) (ALERTS{%(clusterSel)salertname=~"IAMCredential.+",alertstate="firing",account_id=~"$account_id",user="$user"}) * on (account_id) group_left (name) topk by (account_id) (1, aws_iam_account_info{%(jobSel)s,account_id=~"$account_id"}) or on (account_id) sum by (alertname, severity, account_id, key, cert) (ALERTS{%(clusterSel)salertname=~"IAMCredential.+",alertstate="firing",account_id=~"$account_id",user="$user"})' % v,
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
              excludeByName: { Time: true, job: true, instance: true, Value: true },
              indexByName: { severity: 0, alertname: 1, account_id: 2, key: 4, cert: 5, name: 3 },
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
              matcher: { id: 'byName', options: 'alertname' },
              properties: [{ id: 'displayName', value: 'Alert' }],
            },
            {
              matcher: { id: 'byName', options: 'severity' },
              properties: [{ id: 'displayName', value: 'Severity' }, { id: 'custom.width', value: 90 }],
            },
            {
              matcher: { id: 'byName', options: 'account_id' },
              properties: [{ id: 'displayName', value: 'Account' }],
            },
            {
              matcher: { id: 'byName', options: 'name' },
              properties: [{ id: 'displayName', value: 'Name' }],
            },
            {
              matcher: { id: 'byName', options: 'key' },
              properties: [{ id: 'displayName', value: 'Key' }, { id: 'custom.width', value: 60 }],
            },
            {
              matcher: { id: 'byName', options: 'cert' },
              properties: [{ id: 'displayName', value: 'Cert' }, { id: 'custom.width', value: 60 }],
            },
          ],
        },
        options: {
          showHeader: true,
          cellHeight: 'sm',
          footer: { show: false, reducer: ['sum'], countRows: false, fields: '' },
          sortBy: [{ displayName: 'Severity', desc: false }],
        },
      },
    ],
  )
